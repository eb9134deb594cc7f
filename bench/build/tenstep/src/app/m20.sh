echo app 20
