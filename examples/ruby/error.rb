def handler(event, context)
  raise 'something went wrong in the function'
end
