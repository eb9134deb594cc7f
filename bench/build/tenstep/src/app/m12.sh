echo app 12
