#!/usr/bin/env python
"""Django's command-line utility; `cleanroom` is the same thing installed as a script."""

import sys

from config.cli import execute

if __name__ == "__main__":
    execute(sys.argv)
