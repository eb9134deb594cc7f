echo app 2
