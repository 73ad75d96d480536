from harvest.cli.app import main

main()
