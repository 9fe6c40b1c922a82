"""The voice: features, the openSMILE and Whisper experts, the networks and their training."""
