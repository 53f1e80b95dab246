"""Stand-ins for pylsl objects, for recorder tests that must not depend on a live stream."""


class FakeInfo:
    """The parts of a pylsl StreamInfo the recorders read."""

    def __init__(self, uid="u1", fmt=1, name="s", srate=250.0, type_="EEG", channel_count=4) -> None:
        self._uid, self._fmt, self._name = uid, fmt, name
        self._srate, self._type, self._channel_count = srate, type_, channel_count

    def uid(self):
        return self._uid

    def channel_format(self):
        return self._fmt

    def name(self):
        return self._name

    def source_id(self):
        return self._uid

    def nominal_srate(self):
        return self._srate

    def type(self):
        return self._type

    def channel_count(self):
        return self._channel_count
