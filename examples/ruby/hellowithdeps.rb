# Uses a gem named in the Gemfile (rack: Debian ships it in the image, so no gem source is
# needed) and the Rack request Kubeless puts in event[:extensions][:request].
require 'rack'

def handler(event, context)
  request = event[:extensions][:request]
  {
    form: Rack::Utils.parse_nested_query(event[:data]),
    query: request.GET,
    function: context[:'function-name']
  }
end
