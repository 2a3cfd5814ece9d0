"""What users see: console tables and progress (`tables`), charts (`plots`), the HTML report
(`html`), and the files an output folder holds (`files`)."""

import logging

# matplotlib warns on stderr when it cannot write its config folder (HOME not writable) and then
# works from a temporary one: no error of irsim's, whose errors are one line each. Whoever
# configures logging still receives the warnings (a NullHandler does not stop propagation).
logging.getLogger("matplotlib").addHandler(logging.NullHandler())
