echo app 15
