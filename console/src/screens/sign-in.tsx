import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import type { Problem } from '../api';
import type { Session } from '../session';
import { Field, ProblemView, ScreenTitle, formValues } from '../ui';

const FIELDS = ['email', 'password'];

export function SignIn(props: { session: Session; reason: Problem | undefined }): JSX.Element {
  const [problem, setProblem] = useState<Problem | undefined>(props.reason);
  const [busy, setBusy] = useState(false);

  const submit = async (event: Event): Promise<void> => {
    const v = formValues(event);
    setBusy(true);
    setProblem(undefined);
    const failed = await props.session.signIn({
      tenantId: v.tenantId ?? '',
      email: v.email ?? '',
      password: v.password ?? '',
      adminToken: v.adminToken ?? '',
    });
    setBusy(false);
    if (failed) setProblem(failed);
  };

  return (
    <main id="main" class="sign-in">
      <ScreenTitle>Sign in to the admin console</ScreenTitle>
      <p>Your session lives in this tab only: reloading or closing it signs you out.</p>
      <ProblemView problem={problem} fields={FIELDS} />
      <form onSubmit={(e) => void submit(e)} aria-busy={busy}>
        <Field label="Shop (tenant id)" name="tenantId" problem={problem}>
          {(a) => <input {...a} required autoComplete="organization" spellcheck={false} />}
        </Field>
        <Field label="Email" name="email" problem={problem}>
          {(a) => <input {...a} type="email" required autoComplete="username" />}
        </Field>
        <Field label="Password" name="password" problem={problem}>
          {(a) => <input {...a} type="password" required autoComplete="current-password" />}
        </Field>
        <Field
          label="Admin token"
          name="adminToken"
          problem={problem}
          hint="The X-Admin-Token of this deployment."
        >
          {(a) => <input {...a} type="password" required autoComplete="off" />}
        </Field>
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
