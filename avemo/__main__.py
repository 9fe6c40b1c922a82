"""`python -m avemo ...` is the same as the `avemo` console script."""
import sys

from avemo.cli import main

sys.exit(main())
