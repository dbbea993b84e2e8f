"""Speech for the loudspeakers: notices as spoken scripts, offline Mandarin audio, files for a broadcast system.

``build_script`` (script.py) turns a notice into what an announcer says; ``render_notice`` (render.py) writes the
script, WAV/MP3 and playlist entry into a folder; ``speak_numbers`` (numbers.py) reads numbers aloud.
"""
