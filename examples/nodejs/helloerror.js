'use strict';

// A thrown error is answered with 500; the stack goes to the log and the server lives on.
module.exports = {
  handler: (event, context) => {
    throw new Error('something went wrong');
  },
};
