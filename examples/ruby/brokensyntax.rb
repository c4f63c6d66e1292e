# A syntax error: the deploy fails with the file, line and fix in the termination log.
def handler(event, context)
  [1, 2
end
