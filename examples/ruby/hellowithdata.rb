# A JSON body arrives parsed in event[:data]; a Hash returned is sent back as JSON.
def handler(event, context)
  puts "data: #{event[:data]}"
  event[:data]
end
