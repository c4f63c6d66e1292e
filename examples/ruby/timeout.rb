# Runs past FUNC_TIMEOUT: the server answers 408 and kills this worker.
def handler(event, context)
  sleep 10
  'too late'
end
