'use strict';

// Answers through event.extensions.response (a recording shim of Express's response).
module.exports = {
  handler: (event, context) => {
    const { request, response } = event.extensions;
    response.status(201).set('X-Method', request.method).json({ path: request.path, query: request.query });
  },
};
