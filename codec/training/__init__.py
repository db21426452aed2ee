"""Training the codec: corpus audio, losses, the trainer behind ``flowtts train codec``."""
