import './base.css';
import './context.css';
import './tools.css';
import './chatlist.css';
