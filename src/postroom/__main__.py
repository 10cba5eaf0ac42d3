from postroom.interfaces.cli.main import app

app()
