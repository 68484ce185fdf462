"""Stand-ins for time, shared by the tests: sleeps that pass at once and are recorded."""

from __future__ import annotations


class Sleeps(list[float]):
    """Records the delays the client asks for instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


class SimulatedClock:
    """A clock whose sleeps pass at once, for the shared rate limiter."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
