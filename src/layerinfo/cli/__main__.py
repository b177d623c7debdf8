import sys

from layerinfo.cli.main import main

sys.exit(main())
