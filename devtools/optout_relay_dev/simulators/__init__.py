"""Loopback simulators of the providers' unsubscribe APIs, with injectable faults."""

from optout_relay_dev.simulators.base import (
    LoopbackHttpServer,
    ProviderSimulator,
    RecordedCall,
    Request,
    Response,
)
from optout_relay_dev.simulators.faults import Fault, FaultInjector, FaultKind, FaultRates
from optout_relay_dev.simulators.tatango import RateLimit, TatangoSimulator
from optout_relay_dev.simulators.trackly import TracklySimulator

__all__ = [
    "Fault",
    "FaultInjector",
    "FaultKind",
    "FaultRates",
    "LoopbackHttpServer",
    "ProviderSimulator",
    "RateLimit",
    "RecordedCall",
    "Request",
    "Response",
    "TatangoSimulator",
    "TracklySimulator",
]
