from edge.app.entry import main

raise SystemExit(main())
