/** Asks for a token when the server wants one, and says so plainly when it refused the one given. */
import { useEffect, useId, useRef, useState } from 'preact/hooks';

export interface TokenFormProps {
  /** A token was sent and refused (rather than none sent). */
  refused: boolean;
  /** The server's message. */
  message: string;
  onToken(token: string): void;
}

export function TokenForm({ refused, message, onToken }: TokenFormProps) {
  const id = useId();
  const [value, setValue] = useState('');
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), [refused, message]);

  return (
    <section class="token-form" aria-labelledby={`${id}-title`}>
      <h1 id={`${id}-title`} tabIndex={-1} ref={heading}>
        {refused ? 'The server refused the token' : 'This server needs a token'}
      </h1>
      <p role="alert" class="error" data-testid="auth-message">
        {refused ? `The token was refused: ${message}` : `Enter a token to read its journals (${message}).`}
      </p>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          const token = value.trim();
          if (token !== '') onToken(token);
        }}
      >
        <label for={`${id}-input`}>Token</label>
        <input
          id={`${id}-input`}
          type="password"
          autocomplete="off"
          spellcheck={false}
          required
          value={value}
          onInput={(event) => setValue(event.currentTarget.value)}
          aria-describedby={`${id}-hint`}
        />
        <button type="submit">Use this token</button>
      </form>
      <p id={`${id}-hint`} class="hint">
        The token is kept for this tab only and forgotten when the tab closes. You can also open the page with <code>?token=…</code>.
      </p>
    </section>
  );
}
