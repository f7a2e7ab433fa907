import sys

from app.loadtest.cli import main

sys.exit(main())
