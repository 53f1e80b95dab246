"""Stand-ins for pylsl objects, for recorder tests that must not depend on a live stream."""


class FakeInfo:
    """The parts of a pylsl StreamInfo the recorders read."""

    def __init__(self, uid="u1", fmt=1, name="s") -> None:
        self._uid, self._fmt, self._name = uid, fmt, name

    def uid(self):
        return self._uid

    def channel_format(self):
        return self._fmt

    def name(self):
        return self._name
