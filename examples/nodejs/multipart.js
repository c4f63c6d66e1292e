'use strict';

// Kubeless's multipart example, without a dependency: the server leaves a multipart body
// unparsed and the function reads event.extensions.request as a stream (busboy or formidable
// do the same with `request.pipe(parser)`).
module.exports = {
  handler: async (event, context) => {
    const { request } = event.extensions;
    if (!request.is('multipart/form-data')) {
      event.extensions.response.status(415);
      return 'send multipart/form-data\n';
    }
    const boundary = /boundary=(?:"([^"]+)"|([^;]+))/.exec(request.get('content-type'));
    const chunks = [];
    for await (const chunk of request) chunks.push(chunk);
    const parts = Buffer.concat(chunks).toString('latin1').split(`--${boundary[1] || boundary[2]}`).slice(1, -1);
    const fields = {};
    for (const part of parts) {
      const [head, ...body] = part.split('\r\n\r\n');
      const name = /name="([^"]*)"/.exec(head)[1];
      const file = /filename="([^"]*)"/.exec(head);
      const value = body.join('\r\n\r\n').slice(0, -2); // without the CRLF before the boundary
      fields[name] = file ? { filename: file[1], bytes: value.length } : value;
    }
    return fields;
  },
};
