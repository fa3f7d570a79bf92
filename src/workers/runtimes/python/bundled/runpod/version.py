"""The version this module reports: the official SDK's protocol version, marked as the emulator's."""
__version__ = "1.12.0+emulator"
