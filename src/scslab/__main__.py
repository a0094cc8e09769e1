from scslab.cli import main

main()
