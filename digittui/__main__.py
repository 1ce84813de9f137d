from digittui.cli import main

raise SystemExit(main())
