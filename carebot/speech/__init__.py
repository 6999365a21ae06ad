"""carebot's ears and voice: audio input, voice activity detection, Whisper
recognition with a hallucination guard, and speech output (espeak-ng / Piper).

Every module here is ROS-free except ``speech_node``.
"""
