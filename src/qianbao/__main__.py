from qianbao.cli import app

app(prog_name="qianbao")
