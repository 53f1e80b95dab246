"""The Qt window, kiosk mode and stimulus presenter."""
