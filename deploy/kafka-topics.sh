#!/bin/sh
# Creates every PRRE topic; safe to run again (existing topics are left as
# they are). Run by the one-shot kafka-init service in docker-compose.yml,
# inside the Kafka image, before any service starts: the services themselves
# never create topics.
#
#   BOOTSTRAP_SERVERS   broker to talk to (default kafka:9092)
#   REPLICATION_FACTOR  copies of each partition (default 1: one broker)
#   KAFKA_BIN           where the Kafka command-line tools are
set -eu

bootstrap=${BOOTSTRAP_SERVERS:-kafka:9092}
replication=${REPLICATION_FACTOR:-1}
bin=${KAFKA_BIN:-/opt/kafka/bin}

# One topic per publishing service; six partitions spread the cases (the key
# is the referral or area id) over up to six consumers per group.
service_topics="
prre.referral.v1
prre.triage.v1
prre.assessment.v1
prre.review-scheduler.v1
"

# One dead-letter topic per consuming service; a single partition keeps each
# service's failures in the order they happened.
deadletter_topics="
prre.deadletter.referral.v1
prre.deadletter.triage.v1
prre.deadletter.assessment.v1
prre.deadletter.review-scheduler.v1
prre.deadletter.projections.v1
"

create() {
    "$bin/kafka-topics.sh" --bootstrap-server "$bootstrap" --create \
        --if-not-exists --topic "$1" --partitions "$2" \
        --replication-factor "$replication"
}

# The broker reports healthy before it may accept metadata changes; a short,
# bounded wait covers that gap.
attempt=1
until "$bin/kafka-topics.sh" --bootstrap-server "$bootstrap" --list >/dev/null; do
    if [ "$attempt" -ge 30 ]; then
        echo "kafka-topics: broker $bootstrap not reachable, giving up" >&2
        exit 1
    fi
    attempt=$((attempt + 1))
    sleep 2
done

for topic in $service_topics; do
    create "$topic" 6
done
for topic in $deadletter_topics; do
    create "$topic" 1
done

echo "kafka-topics: all PRRE topics present on $bootstrap"
