echo app 1
