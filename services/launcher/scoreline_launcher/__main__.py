from scoreline_launcher.cli import main

main()
