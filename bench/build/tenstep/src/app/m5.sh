echo app 5
