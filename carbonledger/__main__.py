import sys

from carbonledger.cli import main

sys.exit(main())
