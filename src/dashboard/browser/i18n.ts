/**
 * The dashboard's own words in each language the close-code registry carries. Code names and
 * explanations come from the registry itself; these are only the page's labels.
 * @packageDocumentation
 */
import type { Lang } from '../../codes/index.js';

const en = {
  title: 'lifeline dashboard',
  language: 'Language',
  connection: 'Dashboard connection',
  serverState: 'Server',
  sources: 'processes',
  updated: 'updated',
  waiting: 'waiting for the first snapshot…',
  counts: 'Live counts',
  open: 'Open connections',
  opened: 'Opened',
  incidents: 'Incidents (1011)',
  resumed: 'Sessions resumed',
  drains: 'Drains',
  messagesIn: 'Messages in',
  messagesOut: 'Messages out',
  closes: 'Closes by code',
  closesWindow: 'last 5 minutes, 10-second bars',
  noCloses: 'No closes in the last 5 minutes.',
  now: 'now',
  recentIncidents: 'Recent 1011 incidents',
  incidentsNote: 'Operators only: clients see the incident id, never the error.',
  noIncidents: 'No incidents.',
  incident: 'Incident',
  time: 'Time',
  connectionId: 'Connection',
  handler: 'Handler',
  errorLine: 'Error (first line)',
  actions: 'Actions',
  restart: 'Planned restart (1012)',
  restartNote: 'Same as SIGHUP: reload the configuration, then close every connection with 1012 across the drain window; the process keeps serving.',
  restarting: 'Restart requested: connections are being cycled with 1012.',
  crash: 'Crash one demo connection (1011)',
  crashNote: 'Demo only: one connection that is not a dashboard\u2019s has its handler throw.',
  crashed: 'Crashed connection {connection}: incident {incident}.',
  failed: 'Failed: {message}',
  reference: 'Close-code reference',
  code: 'Code',
  name: 'Name',
  sender: 'Sent by',
  reaction: 'Client reaction',
  summary: 'Signals',
  onWire: 'On the wire',
  compare: 'Compare two codes',
  description: 'What it means',
  when: 'When it happens',
  fix: 'How to fix',
  difference: 'Main difference',
  whenEach: 'When you meet each',
  whatToDo: 'What to do, and when to use which',
  stateConnecting: 'connecting',
  stateOpen: 'connected',
  stateReconnecting: 'reconnecting',
  stateClosed: 'closed',
  stateStopped: 'stopped',
  stateExhausted: 'gave up',
  lastClose: 'last close: {code} {name}{incident}, {next}',
  backIn: 'back in {ms} ms',
  noReconnect: 'not reconnecting',
  forbidden: 'The server refused the stats channel: log in again with /?token=<admin token>.',
} as const;

/** The label keys. */
export type UiKey = keyof typeof en;

const zh: Record<UiKey, string> = {
  title: 'lifeline 控制台',
  language: '语言',
  connection: '控制台连接',
  serverState: '服务器',
  sources: '进程数',
  updated: '更新于',
  waiting: '等待第一份快照…',
  counts: '实时计数',
  open: '当前连接',
  opened: '累计连接',
  incidents: '事故（1011）',
  resumed: '恢复的会话',
  drains: '排空次数',
  messagesIn: '收到的消息',
  messagesOut: '发出的消息',
  closes: '按关闭码统计的关闭',
  closesWindow: '最近 5 分钟，每柱 10 秒',
  noCloses: '最近 5 分钟没有关闭。',
  now: '现在',
  recentIncidents: '最近的 1011 事故',
  incidentsNote: '仅供运维查看：客户端只能看到事故编号，看不到错误内容。',
  noIncidents: '没有事故。',
  incident: '事故编号',
  time: '时间',
  connectionId: '连接',
  handler: '处理器',
  errorLine: '错误（第一行）',
  actions: '操作',
  restart: '计划内重启（1012）',
  restartNote: '与 SIGHUP 相同：重新加载配置，然后在排空窗口内用 1012 关闭所有连接；进程继续服务。',
  restarting: '已请求重启：正在用 1012 轮换连接。',
  crash: '让一个演示连接崩溃（1011）',
  crashNote: '仅演示模式：挑一个不属于控制台的连接，让它的处理器抛出异常。',
  crashed: '连接 {connection} 已崩溃：事故编号 {incident}。',
  failed: '失败：{message}',
  reference: '关闭码参考',
  code: '关闭码',
  name: '名称',
  sender: '发送方',
  reaction: '客户端的反应',
  summary: '含义',
  onWire: '可出现在线路上',
  compare: '比较两个关闭码',
  description: '含义',
  when: '何时出现',
  fix: '如何处理',
  difference: '主要区别',
  whenEach: '各自何时出现',
  whatToDo: '如何处理，何时用哪个',
  stateConnecting: '连接中',
  stateOpen: '已连接',
  stateReconnecting: '重连中',
  stateClosed: '已关闭',
  stateStopped: '已停止',
  stateExhausted: '已放弃',
  lastClose: '上次关闭：{code} {name}{incident}，{next}',
  backIn: '{ms} 毫秒后重连',
  noReconnect: '不再重连',
  forbidden: '服务器拒绝了统计频道：请用 /?token=<管理令牌> 重新登录。',
};

const TEXTS: Readonly<Record<Lang, Readonly<Record<UiKey, string>>>> = { en, zh };

/** One label in `lang`, with `{name}` placeholders filled from `values`. */
export function t(lang: Lang, key: UiKey, values: Readonly<Record<string, string | number>> = {}): string {
  return TEXTS[lang][key].replace(/\{(\w+)\}/g, (whole, name: string) => (name in values ? String(values[name]) : whole));
}

/** Set the text of every `[data-i18n]` element under `root`. */
export function translate(root: ParentNode, lang: Lang): void {
  root.querySelectorAll<HTMLElement>('[data-i18n]').forEach((el) => {
    const key = el.dataset.i18n as UiKey | undefined;
    if (key !== undefined && key in en) el.textContent = t(lang, key);
  });
}

/** The language to start in: `?lang=`, then the saved choice, then the browser's. */
export function initialLang(): Lang {
  const param = new URLSearchParams(location.search).get('lang');
  if (param === 'en' || param === 'zh') return param;
  try {
    const saved = localStorage.getItem('lifeline.lang');
    if (saved === 'en' || saved === 'zh') return saved;
  } catch {
    // Storage can be off (private mode, sandboxing): fall through to the browser's language.
  }
  return navigator.language.toLowerCase().startsWith('zh') ? 'zh' : 'en';
}

/** Remember the choice for the next visit. */
export function saveLang(lang: Lang): void {
  try {
    localStorage.setItem('lifeline.lang', lang);
  } catch {
    // Not remembered; the switch still works for this page.
  }
}
