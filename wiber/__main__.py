from wiber.cli import main

raise SystemExit(main())
