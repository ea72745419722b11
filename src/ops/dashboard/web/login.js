// The login form: POST /api/login sets the HttpOnly admin cookie when the token is right.
'use strict';
document.getElementById('login').addEventListener('submit', async (event) => {
  event.preventDefault();
  const error = document.getElementById('login-error');
  error.hidden = true;
  const token = document.getElementById('token').value;
  try {
    const reply = await fetch('/api/login', {
      method: 'POST',
      headers: {'Content-Type': 'application/json'},
      body: JSON.stringify({token}),
      credentials: 'same-origin',
    });
    if (reply.ok) {
      window.location.replace('/');
      return;
    }
    if (reply.status === 429) {
      const wait = reply.headers.get('Retry-After');
      error.textContent = 'Too many failed attempts; try again in ' + (wait || 'a few') + ' s.';
    } else {
      error.textContent = reply.status === 401 ? 'Wrong token.' : 'Login failed (' + reply.status + ').';
    }
  } catch (e) {
    error.textContent = 'The server cannot be reached.';
  }
  error.hidden = false;
});
