echo app 8
