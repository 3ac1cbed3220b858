// Stake amounts as the dashboard prints them. Pure (no DOM), so Node's test runner checks it.

const WEI_PER_ETH = 10n ** 18n;

// "1 ETH", "0.5 ETH", "0.000000000000005 ETH" from a decimal wei string, exactly (BigInt: a
// float would round amounts above 2^53 wei, about 0.009 ETH); '' for a missing amount.
export function formatEther(wei) {
  if (wei === undefined || wei === null || wei === '') return '';
  let amount;
  try {
    amount = BigInt(wei);
  } catch {
    return String(wei) + ' wei';  // not a number: shown as it came
  }
  const sign = amount < 0n ? '-' : '';
  if (amount < 0n) amount = -amount;
  const whole = amount / WEI_PER_ETH;
  const fraction = (amount % WEI_PER_ETH).toString().padStart(18, '0').replace(/0+$/, '');
  return `${sign}${whole}${fraction ? '.' + fraction : ''} ETH`;
}

// The newest slashes first, each with the text its table row shows.
export function slashLines(slashings) {
  return [...(slashings || [])].sort((a, b) => (b.block || 0) - (a.block || 0)).map((s) => ({
    ...s,
    slashed: formatEther(s.slashed_wei),
    reward: formatEther(s.reward_wei),
  }));
}
