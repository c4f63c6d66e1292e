'use strict';

// Kubeless's streaming example: pipe a file into the live response. The chunks reach the
// client as they are read; the call ends when the file has been sent.
const fs = require('fs');

module.exports = {
  handler: (event, context) => {
    const { response } = event.extensions;
    response.set('Content-Type', 'text/plain');
    fs.createReadStream(__filename).pipe(response);
  },
};
