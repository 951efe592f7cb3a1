from edge.entry import main

raise SystemExit(main())
