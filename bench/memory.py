"""Resident set size of each service process, with any children it started."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import psutil

from prre_runtime.stack import ServiceProcess

MIB = 1024 * 1024


def resident_mib(pid: int) -> float:
    """RSS of the process and its descendants, in MiB; 0 if it has gone."""
    try:
        process = psutil.Process(pid)
        family = [process, *process.children(recursive=True)]
        return sum(int(member.memory_info().rss) for member in family) / MIB
    except psutil.NoSuchProcess:
        return 0.0


def resident_sizes(services: Mapping[str, ServiceProcess]) -> dict[str, float]:
    return {
        name: resident_mib(service.process.pid)
        for name, service in services.items()
        if service.process is not None
    }


class PeakSampler:
    """Keeps the largest RSS seen of each service while it runs."""

    def __init__(self, services: Mapping[str, ServiceProcess]) -> None:
        self._services = services
        self.peaks: dict[str, float] = {}

    def sample(self) -> None:
        for name, size in resident_sizes(self._services).items():
            self.peaks[name] = max(size, self.peaks.get(name, 0.0))

    async def run(self, every: float = 0.25) -> None:
        """Sample until cancelled."""
        while True:
            self.sample()
            await asyncio.sleep(every)
