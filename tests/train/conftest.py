import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # video_files: the MP4 writers of the video-data tests
