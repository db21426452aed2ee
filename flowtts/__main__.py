from flowtts.cli import main

raise SystemExit(main())
