"""Report writers: records -> DataFrames, tables and files. The core never imports this."""

import logging

# matplotlib logs a warning (two lines on stderr) when $HOME is not writable and it makes a
# temporary cache, and when it builds its font cache: not the user's concern, and stderr
# keeps to one line per message.
logging.getLogger("matplotlib").setLevel(logging.ERROR)
