echo app 10
