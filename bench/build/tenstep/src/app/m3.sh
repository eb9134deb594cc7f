echo app 3
